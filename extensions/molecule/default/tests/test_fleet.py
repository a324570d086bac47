"""default: the coding preset (stub runtimes) is up on the one host, before and after a reboot."""
from fleet_tests import *  # noqa: F401,F403
