#!/bin/sh
# Started as root (runners/docker.py keeps only SETUID, SETGID and KILL), become the grader, uid 1000.
# Those three capabilities stay with the grader as ambient ones: it needs them to start the candidate's
# worker as yet another user and to stop it. The worker gets none (pytest_diffchallenge/client.py clears the ambient set
# before starting it, and a non-root exec keeps nothing else). Any other user runs the command as is.
set -e
if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=1000 --regid=1000 --clear-groups \
        --inh-caps=-all,+setuid,+setgid,+kill --ambient-caps=-all,+setuid,+setgid,+kill -- "$@"
fi
exec "$@"
