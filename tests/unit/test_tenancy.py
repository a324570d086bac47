"""Several fleets on the same hosts, one per tenant (module_utils/tenancy.py, the filters and
ps_report's looped results)."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mosaic.fleet.plugins.filter.fleet_tenancy import fleet_tenancy_find, fleet_tenancy_plan
from ansible_collections.mosaic.fleet.plugins.module_utils import ps_report, tenancy


def roster(tenant="default", *placed):
    agents = [{"name": name, "host": host, "socket": "mosaic-fleet"} for name, host in placed]
    return {"version": 1, "tenant": tenant, "agents": agents}


def fleet(tenant, user, **extra):
    entry = {"tenant": tenant, "user": user, "roster_file": "/r/%s.yml" % tenant}
    entry.update(extra)
    return entry


def validated(*rosters):
    return {"results": [{"roster": r} for r in rosters]}


def test_two_tenants_on_one_host_and_a_third_elsewhere():
    fleets = [fleet("acme", "acme"), fleet("globex", "globex"), fleet("initech", "initech")]
    planned = fleet_tenancy_plan(fleets, validated(
        roster("default", ("orchestrator", "h1"), ("coder0", "h1")),
        roster("globex", ("orchestrator", "h1")),
        roster("default", ("orchestrator", "h2"), ("coder0", "h2"))))
    assert planned["problems"] == []
    assert [(f["tenant"], f["user"], f["hosts"]) for f in planned["fleets"]] == [
        ("acme", "acme", ["h1"]), ("globex", "globex", ["h1"]), ("initech", "initech", ["h2"])]
    assert [f["roster"]["tenant"] for f in planned["fleets"]] == ["acme", "globex", "initech"]


@pytest.mark.parametrize("fleets, rosters, problem", [
    ([fleet("acme", "acme"), fleet("acme", "other")], [roster("default", ("a", "h1")), roster("default", ("b", "h2"))],
     "tenant acme is given twice: mosaic_fleets[0] and mosaic_fleets[1]"),
    ([fleet("acme", "fleet"), fleet("globex", "fleet")], [roster("default", ("a", "h1")), roster("default", ("b", "h1"))],
     "user fleet on h1 is claimed by tenants acme and globex: each tenant needs its own user"),
    ([fleet("acme", "a", mosaic_home="/srv/m"), fleet("globex", "g", mosaic_home="/srv/m/")],
     [roster("default", ("a", "h1")), roster("default", ("b", "h1"))],
     "MOSAIC_HOME /srv/m/ on h1 is claimed by tenants acme and globex"),
    ([fleet("acme", "acme")], [roster("globex", ("a", "h1"))],
     "mosaic_fleets[0]: tenant acme, but its roster says tenant globex"),
])
def test_fleets_that_cannot_stand_together_are_refused(fleets, rosters, problem):
    planned = fleet_tenancy_plan(fleets, validated(*rosters))
    assert problem in planned["problems"], planned["problems"]
    assert planned["fleets"] == []


def test_one_user_on_two_hosts_of_different_tenants_is_fine():
    planned = fleet_tenancy_plan([fleet("acme", "fleet"), fleet("globex", "fleet")],
                                 validated(roster("default", ("a", "h1")), roster("default", ("b", "h2"))))
    assert planned["problems"] == []


@pytest.mark.parametrize("fleets, problem", [
    ([], "non-empty list"),
    ("acme", "non-empty list"),
    ([{"tenant": "acme", "user": "acme"}], "give exactly one of roster, roster_file, profile (got none)"),
    ([fleet("acme", "acme", profile="minimal")], "give exactly one of roster, roster_file, profile (got roster_file, profile)"),
    ([fleet("ac me", "acme")], "tenant 'ac me' must be a name"),
    ([fleet("acme", "")], "user '' must be the Linux user"),
    ([fleet("acme", "acme", color="red")], "unknown key(s) color"),
])
def test_entries_are_checked_before_rosters_are_read(fleets, problem):
    problems = fleet_tenancy_plan(fleets)["problems"]
    assert any(problem in p for p in problems), problems


def test_the_filter_refuses_a_failed_validation():
    with pytest.raises(AnsibleFilterError):
        fleet_tenancy_plan([fleet("acme", "acme")], {"results": [{"failed": True, "msg": "bad roster"}]})


def test_find_an_agent_by_name_or_tenant_slash_name():
    planned = fleet_tenancy_plan([fleet("acme", "acme"), fleet("globex", "globex")], validated(
        roster("default", ("orchestrator", "h1"), ("coder0", "h1")), roster("default", ("orchestrator", "h1"))))["fleets"]
    assert fleet_tenancy_find(planned, "coder0")["fleet"]["tenant"] == "acme"
    assert fleet_tenancy_find(planned, "globex/orchestrator")["fleet"]["user"] == "globex"
    ambiguous = fleet_tenancy_find(planned, "orchestrator")["problem"]
    assert ambiguous == ("agent orchestrator is in several fleets: say which, as acme/orchestrator "
                         "or globex/orchestrator")
    assert "no agent globex/coder0 in any fleet" in fleet_tenancy_find(planned, "globex/coder0")["problem"]
    with pytest.raises(ValueError):
        tenancy.find_agent(planned, "nobody")


def test_ps_records_take_one_result_per_fleet_of_a_host():
    def result(tenant, *names):
        return {"tenant_id": tenant, "agents": [{"name": n, "tenant_id": tenant, "health": "healthy"} for n in names],
                "placement": {}}
    looped = {"h1": {"results": [result("globex", "orchestrator"), result("acme", "orchestrator", "coder0")]},
              "h2": {"results": [result("initech", "orchestrator")]},
              "h3": {"results": [], "skipped": True}}
    records = ps_report.fleet_ps_records(looped)
    assert [(r["host"], r["tenant_id"], r["name"]) for r in records] == [
        ("h1", "acme", "coder0"), ("h1", "acme", "orchestrator"), ("h1", "globex", "orchestrator"),
        ("h2", "initech", "orchestrator")]
    assert ps_report.fleet_ps_summary(records)["ok"] is True
