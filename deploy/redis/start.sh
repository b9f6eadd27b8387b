#!/bin/sh
# The entrypoint of docker-compose.yml's Redis servers: writes the ACL file (users.sh) and the
# replication credentials, readable inside the container only, then starts redis-server through the
# image's own entrypoint (which drops root) with them and the arguments given.
set -eu
umask 077
conf=/run/relops-redis
mkdir -p "$conf"
sh /etc/relops/redis-users.sh > "$conf/users.acl"
# A replica (and a former primary, after a failover) authenticates to its primary as default.
printf 'aclfile %s/users.acl\nmasteruser default\nmasterauth %s\n' "$conf" "${REDIS_ADMIN_PASSWORD:?}" > "$conf/redis.conf"
chown -R redis "$conf"
exec docker-entrypoint.sh redis-server "$conf/redis.conf" "$@"
