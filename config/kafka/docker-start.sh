#!/bin/bash
# The broker of docker-compose.yml (apache/kafka:3.9.2 image): the same server.properties as
# `credence stack up` (SASL/SCRAM-SHA-512, PLAIN on the controller listener, StandardAuthorizer,
# no ACL = no access), plus the listeners a container network needs. admin's SCRAM credential is
# put into the metadata when the storage is formatted, as the local stack does.
set -euo pipefail
: "${CREDENCE_ADMIN_PASSWORD:?set it in .env (README, Security)}"
conf=/tmp/credence-server.properties
data=/tmp/kraft-combined-logs  # the image's default log.dirs, writable by its user
umask 077  # the rendered files hold the admin password
sed -e "s|{port}|9092|g" -e "s|{controller_port}|9093|g" -e "s|{log_dir}|${data}|g" \
    -e "s|{admin_password}|${CREDENCE_ADMIN_PASSWORD}|g" /credence/server.properties > "$conf"
cat >> "$conf" <<EOF

# docker-compose: the other containers reach kafka:9092, the host localhost:29092 (both SASL);
# the controller listener stays on the container's loopback. Later keys override earlier ones.
listeners=SASL_PLAINTEXT://0.0.0.0:9092,HOST://0.0.0.0:29092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092,HOST://localhost:29092
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
listener.name.host.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
# The healthcheck's admin client.
cat > /tmp/credence-admin.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${CREDENCE_ADMIN_PASSWORD}";
EOF
mkdir -p "$data"
/opt/kafka/bin/kafka-storage.sh format -t "${CLUSTER_ID:-MkU3OEVBNTcwNTJENDM2Qk}" -c "$conf" \
    --ignore-formatted --add-scram "SCRAM-SHA-512=[name=admin,password=${CREDENCE_ADMIN_PASSWORD}]"
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
