from sycobench.app import main

main()
