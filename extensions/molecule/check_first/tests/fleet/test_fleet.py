"""check_first: after the check pass, the real converge stood the local-canary fleet up."""
from fleet_tests import *  # noqa: F401,F403
