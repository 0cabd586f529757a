"""The ``[database]`` group comes from oslo.db; this sets dcmanager's defaults."""

from oslo_config import cfg
from oslo_db import options as db_options

# oslo.config substitutes $state_path when the option is read, so the embedded
# SQLite file follows [DEFAULT] state_path.
DEFAULT_CONNECTION = "sqlite:///$state_path/dcmanager.sqlite"


def register_opts(conf: cfg.ConfigOpts) -> None:
    # On the option objects themselves, so the generated sample shows it too.
    cfg.set_defaults(db_options.database_opts, connection=DEFAULT_CONNECTION)
    conf.register_opts(db_options.database_opts, group="database")
