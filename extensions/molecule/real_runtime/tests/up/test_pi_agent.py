"""real_runtime, after converge: the fleet of one real pi agent is up under systemd, stays
healthy while idle, and takes a message that reaches the mock model."""

# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)
from fleetcheck import wait_until

import pi_agent


def test_pi_runs_under_its_unit(user):  # noqa: F811  pylint: disable=redefined-outer-name
    pi_agent.assert_under_its_unit(user)


def test_healthy_while_idle_across_stale_after_periods(host, user, inventory_host):  # noqa: F811  pylint: disable=redefined-outer-name
    pi_agent.assert_healthy_while_idle(host, user, inventory_host)


def test_fleet_send_delivered_and_the_model_answers(host, user):  # noqa: F811  pylint: disable=redefined-outer-name
    seen = len(pi_agent.requests(host))
    pi_agent.send(host, user, pi_agent.FIRST)
    pi_agent.wait_request(host, lambda body: "FIRST-MOLECULE" in body, after=seen, what="pi's turn")
    shown = wait_until(lambda: "DONE-ONE" in pi_agent.screen(user), timeout=60)
    assert shown, "pi did not show the model's answer:\n%s" % pi_agent.screen(user)
