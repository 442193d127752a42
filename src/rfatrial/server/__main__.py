"""``python -m rfatrial.server <command>``: Django's management commands (migrate, shell, ...)."""

from rfatrial.server.manage import main

main()
