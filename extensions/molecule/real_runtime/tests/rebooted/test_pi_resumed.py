"""real_runtime, after a real reboot: pi is back under its unit, healthy, and continues its
conversation: the mock model's next request carries the turn before the reboot."""

# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)

import pi_agent


def test_pi_back_under_its_unit(user):  # noqa: F811  pylint: disable=redefined-outer-name
    pi_agent.assert_under_its_unit(user)


def test_healthy_after_the_reboot(host, user, inventory_host):  # noqa: F811  pylint: disable=redefined-outer-name
    pi_agent.assert_healthy_while_idle(host, user, inventory_host, periods=1)


def test_resumed_the_mock_sees_the_first_turn(host, user):  # noqa: F811  pylint: disable=redefined-outer-name
    before = pi_agent.requests(host)
    assert any("FIRST-MOLECULE" in body for body in before), "the mock's record lost the first turn"
    pi_agent.send(host, user, pi_agent.SECOND)
    body = pi_agent.wait_request(host, lambda b: "SECOND-MOLECULE" in b, after=len(before),
                                 what="pi's turn after the reboot")
    assert "FIRST-MOLECULE" in body and "DONE-ONE" in body, \
        "pi did not resume: its first request after the reboot lacks the earlier turn:\n%s" % body[:3000]
