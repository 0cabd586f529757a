"""Default API policies, declared in code (``oslopolicy-sample-generator``, namespace
``dcmanager``, renders them to ``etc/dcmanager/policy.yaml.sample``)."""

import itertools

from oslo_policy import policy

from dcmanager.policies import apps
from dcmanager.policies import base
from dcmanager.policies import helm_charts
from dcmanager.policies import releases
from dcmanager.policies import subcloud_apps
from dcmanager.policies import subcloud_groups
from dcmanager.policies import subclouds
from dcmanager.policies import sw_update_strategy


def list_rules() -> list[policy.RuleDefault]:
    return list(
        itertools.chain(
            base.list_rules(),
            subclouds.list_rules(),
            subcloud_groups.list_rules(),
            sw_update_strategy.list_rules(),
            releases.list_rules(),
            helm_charts.list_rules(),
            apps.list_rules(),
            subcloud_apps.list_rules(),
        )
    )
