#!/bin/sh
# Prints the Redis ACL file of docker-compose.yml's Redis (and the scale-out replica): one user per
# kind of client, each with the password .env gives it (stored as its SHA-256, never in clear).
#   default  operators, redis-cli, replication and the Sentinels: everything (REDIS_ADMIN_PASSWORD)
#   relops   the workers, beat, Flower, the dashboard, migrate and the CLI: every key and channel,
#            since a receiver may have a queue of its own; no server administration (REDIS_RELOPS_PASSWORD)
#   intake   the HTTP intake: its own state (relops:intake:*), and pushing to the ingest and cron
#            queues, which it may not read; deleting (never reading or writing) dedup windows, which
#            a resolution clicked in Slack forgets (REDIS_INTAKE_PASSWORD)
#   service  your services with relops-client: the shared breakers (relops:breaker:*), and pushing to
#            the ingest, cron and alerts queues, which they may not read (REDIS_SERVICE_PASSWORD)
# Neither intake nor service may list keys (SCAN, KEYS), read relops' other state, or administer.
set -eu

hashed() {
    # The password on stdin, not in any process's arguments.
    printf '%s' "$1" | sha256sum | cut -c1-64
}

# What a reporting client may run, on the keys its user allows: reads, writes, scripts (its state is
# changed by Lua scripts), pipelines; never a key listing, administration or deleting scripts.
reporting='resetchannels -@all +@connection +@read +@write +@scripting +@transaction +time -@dangerous -scan -randomkey -script|flush -script|kill -function'
# The broker's queue bindings (_kombu.binding.* and _kombu.binding_permanent.*): declaring a queue
# records one, a named exchange reads them.
bindings='%RW~_kombu.binding*'

# Pushing to (never reading) each queue named: the queue and its priority lists (kombu's name for
# them: the queue, a separator, a digit), but not a dotted sibling such as alerts.webhook.
pushes() {
    for queue in "$@"; do
        printf '%%W~%s %%W~%s[^.]* ' "$queue" "$queue"
    done
}

printf 'user default on #%s ~* &* +@all\n' "$(hashed "${REDIS_ADMIN_PASSWORD:?}")"
printf 'user relops on #%s ~* &* +@all -@dangerous\n' "$(hashed "${REDIS_RELOPS_PASSWORD:?}")"
# The selector in parentheses lets the intake DEL dedup windows and run nothing else on them: it
# cannot read one, nor write one that would hold back a page.
printf 'user intake on #%s %%RW~relops:intake:* %s%s %s (%%W~relops:dedup:* resetchannels -@all +del)\n' \
    "$(hashed "${REDIS_INTAKE_PASSWORD:?}")" "$(pushes ingest cron)" "$bindings" "$reporting"
printf 'user service on #%s %%RW~relops:breaker:* %s%s %s\n' \
    "$(hashed "${REDIS_SERVICE_PASSWORD:?}")" "$(pushes ingest cron alerts)" "$bindings" "$reporting"
