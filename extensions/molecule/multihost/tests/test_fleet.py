"""multihost: each host runs the agents the roster places on it."""
from fleet_tests import *  # noqa: F401,F403
