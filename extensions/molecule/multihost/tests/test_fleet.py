"""multihost: each host runs the agents the roster places on it."""
# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)
