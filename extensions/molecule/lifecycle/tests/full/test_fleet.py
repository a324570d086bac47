"""lifecycle: the four-agent fleet is up."""
from fleet_tests import *  # noqa: F401,F403
