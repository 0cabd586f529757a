import warnings

# eventlet, which oslo.messaging imports, prints a maintenance-mode banner on import.
# dcmanager uses it only in its service entry points, by design; keep users' terminals
# clean of a warning they cannot act on.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
