"""Console entry points. Only the long-running services monkey-patch eventlet, and
they do it first thing in their own module (see :mod:`dcmanager.cmd.eventlet_setup`)."""
