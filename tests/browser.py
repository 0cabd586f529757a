"""A real browser for the dashboard's tests: Debian's Chromium, driven headless by
Selenium through Debian's ChromeDriver.

Both come from Debian's packages (``chromium``, ``chromium-driver``), installed with
``apt-get`` the first time a test needs them (under a lock, once per machine); nothing is
downloaded at run time by Selenium itself (its driver manager is never asked: the driver
and the browser are named).
"""

import fcntl
import os
import pathlib
import shutil
import subprocess

from tests import services

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT = 900
WINDOW = (1280, 900)


def ensure_installed() -> None:
    """Chromium and ChromeDriver, installed from Debian's packages first if needed."""
    with open(services.cache_dir() / "chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists() and CHROMEDRIVER.exists():
            return
        if not shutil.which("apt-get"):
            services.unavailable("Chromium is not installed and apt-get is not here")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
        ):
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env
            )
            if result.returncode != 0 and command[1] == "install":
                services.unavailable(
                    f"cannot install {' '.join(PACKAGES)}:\n{result.stdout}{result.stderr}"
                )


def start():
    """A headless Chromium under Selenium (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_installed()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
