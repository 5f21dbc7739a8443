from asim.cli import main

main()
