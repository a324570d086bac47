"""How integration tests run the real ``ansible`` CLI against this checkout's collection."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV_COLLECTIONS = os.path.join(REPO, ".cache", "collections")


def ansible_env(base, local_temp, collections_path=None, **extra):
    """``base`` plus what makes ``mosaic.fleet.*`` resolve to the working tree, quietly.

    ``local_temp`` keeps ansible's controller temp files inside the test's own directory;
    ``extra`` adds or overrides variables (PATH, HOME, ...).
    """
    env = dict(base)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections_path or DEV_COLLECTIONS,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(local_temp),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_DEPRECATION_WARNINGS="False",
    )
    env.update(extra)
    return env
