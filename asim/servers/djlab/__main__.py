"""``manage.py`` of the lab's project: ``python -m asim.servers.djlab check``."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asim.servers.djlab.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([f"{sys.executable} -m asim.servers.djlab", *sys.argv[1:]])


if __name__ == "__main__":
    main()
