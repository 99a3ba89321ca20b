#!/usr/bin/env bash
# The two system packages the checks need and pip cannot install: Debian's Chromium (the book opened in a
# headless browser: scripts/check_browser.py, tests/test_browser.py) and bubblewrap (the grader's sandbox).
# Installs the missing ones with apt-get when it can (as root, or with sudo that needs no password);
# otherwise says in one line what is missing and how to enable it, and exits 0, so that `make book` and
# `make test` go on and skip only what needs them. Under CI (CI=true) a missing package is an error.
missing=""
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "${CHROMIUM:-}" ] \
  || missing="$missing chromium"
command -v bwrap >/dev/null || missing="$missing bubblewrap"
[ -z "$missing" ] && exit 0

if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    sudo=""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    sudo="none"
  fi
  if [ "$sudo" != none ]; then
    echo "installing the system packages:$missing (apt-get)"
    if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing; then
      exit 0
    fi
  fi
fi
echo "not installed:$missing (needs root and apt-get); the checks that need it are skipped." \
     "Enable them with: sudo apt-get install$missing"
[ -n "${CI:-}" ] && exit 1
exit 0
