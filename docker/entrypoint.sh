#!/bin/sh
# Started as root (runners/docker.py keeps only the capabilities in its KEPT_CAPABILITIES), become the
# grader, uid 1000. Those capabilities stay with the grader as ambient ones: it needs them to start each
# worker as its own user (SETUID, SETGID), give the worker's folder to the worker's group (CHOWN), remove
# what the worker left there (DAC_OVERRIDE) and stop it (KILL). The worker gets none
# (pytest_diffchallenge/users.py clears the ambient set before starting it, and a non-root exec keeps nothing
# else). Any other user runs the command as is.
set -e
umask 077  # what the grader creates is its own; it opens up a worker's folder to that worker alone
if [ "$(/usr/bin/id -u)" = 0 ]; then
    # /tmp, a fresh tmpfs, becomes the grader's: workers pass through it to their own folders (0711), but
    # cannot list it or plant anything the grader might read (its HOME is /tmp).
    if [ -w /tmp ]; then
        /bin/chmod 0711 /tmp
        /bin/chown 1000:1000 /tmp
    fi
    caps=-all,+setuid,+setgid,+kill,+chown,+dac_override
    exec /usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps="$caps" --ambient-caps="$caps" -- "$@"
fi
exec "$@"
