from auterity_lab.cli import main

main()
