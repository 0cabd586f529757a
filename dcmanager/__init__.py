import warnings

# eventlet, which oslo.messaging imports, prints a maintenance-mode banner on import.
# dcmanager uses it only in its service entry points, by design; keep users' terminals
# clean of a warning they cannot act on.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# eventlet's green DNS imports dnspython, whose DSA module trips eight of cryptography's
# deprecation warnings at import: noise at the top of every service's log and command,
# about code dcmanager never runs.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"dns\.")
