# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mosaic.fleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The standard "this host's fleet is up" tests. A scenario's test module does
``from fleet_tests import *`` and its conftest provides the ``roster`` (the mapping the scenario
converged with) and ``default_host`` (where agents without ``host:`` are placed) fixtures."""

from __future__ import annotations

import pytest

from fleetcheck import (
    FleetUser, assert_comms_sheets, assert_env_files, assert_fleet_ps_healthy,
    assert_heartbeats, assert_linger_and_manager, assert_sessions, assert_units,
    expected_agents,
)

__all__ = [
    "user", "inventory_host", "agents", "roster_agents",
    "test_linger_and_user_manager", "test_units_enabled_and_active",
    "test_one_session_per_agent_running_the_runtime", "test_env_files_exact_and_private",
    "test_comms_sheets", "test_heartbeats_fresh", "test_fleet_ps_all_healthy",
]


@pytest.fixture
def user(host):
    return FleetUser(host)


@pytest.fixture
def inventory_host(host):
    return host.backend.get_hostname()


@pytest.fixture
def agents(roster, inventory_host, default_host):
    placed = expected_agents(roster, inventory_host, default_host)
    assert placed, "the scenario's roster places no agent on %s" % inventory_host
    return placed


@pytest.fixture
def roster_agents(roster, default_host):
    """Every agent of the roster (all hosts), with its host and ssh destination."""
    out = []
    for agent in roster["agents"]:
        out.append({"name": agent["name"], "host": agent.get("host") or default_host,
                    "ssh": agent.get("ssh", "")})
    return out


def test_linger_and_user_manager(user):
    assert_linger_and_manager(user)


def test_units_enabled_and_active(user, agents):
    assert_units(user, agents)


def test_one_session_per_agent_running_the_runtime(user, agents):
    assert_sessions(user, agents, agents[0]["holder_session"])


def test_env_files_exact_and_private(user, agents):
    assert_env_files(user, agents)


def test_comms_sheets(user, agents, roster_agents):
    assert_comms_sheets(user, agents, roster_agents)


def test_heartbeats_fresh(user, agents):
    assert_heartbeats(user, agents)


def test_fleet_ps_all_healthy(host, user, agents, inventory_host):
    assert_fleet_ps_healthy(host, user, agents, inventory_host)
