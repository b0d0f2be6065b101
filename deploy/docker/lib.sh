# shellcheck shell=bash
# Shared helpers of deploy/docker's scripts and scripts/compare-docker. Source it; do not run it.
#
# The Docker engine is Debian's (docker.io, with docker-compose and mmdebstrap). Nothing starts
# it on install; engine_up starts `dockerd` when no engine answers and engine_down stops the one
# it started, by its pid. It runs with --iptables=false and --ip-forward=false: containers here
# talk only to each other and to the host, nothing is routed beyond the machine, and the host's
# firewall and forwarding setting (which the project's network-namespace tests rely on) are left
# as they were.

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

ALLEGRO_DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALLEGRO_REPO=$(cd "$ALLEGRO_DOCKER_DIR/../.." && pwd)
ALLEGRO_DOCKER_STATE=${ALLEGRO_DOCKER_STATE:-/var/tmp/allegro-docker}
# Debian's client, the engine's own version (another `docker` earlier in PATH may be newer).
DOCKER=${DOCKER:-/usr/bin/docker}
COMPOSE=${COMPOSE:-/usr/bin/docker-compose}
# The image tag the deployment uses (`local` unless a caller builds its own, as the CI test does).
ALLEGRO_TAG=${ALLEGRO_TAG:-local}
export ALLEGRO_TAG
# The Debian packages of the one base image every Allegro image is built on.
ALLEGRO_BASE_PACKAGES=ca-certificates,mosquitto,rabbitmq-server,iperf3
ALLEGRO_BASE_IMAGE=allegro-base:bookworm

ENGINE_STARTED=0

docker_packages() {
	require_root
	mkdir -p "$ALLEGRO_STATE_DIR" "$ALLEGRO_DOCKER_STATE"
	ensure_packages docker.io docker-compose mmdebstrap iperf3
}

# engine_up: a Docker engine that answers, started here if none does.
engine_up() {
	local pid i
	docker_packages
	if "$DOCKER" info >/dev/null 2>&1; then
		return 0
	fi
	log "docker: starting dockerd (log: $ALLEGRO_DOCKER_STATE/dockerd.log)"
	/usr/sbin/dockerd --iptables=false --ip-masq=false --ip-forward=false \
		--pidfile "$ALLEGRO_DOCKER_STATE/dockerd.pid" \
		>"$ALLEGRO_DOCKER_STATE/dockerd.log" 2>&1 9>&- &
	pid=$!
	echo "$pid" >"$ALLEGRO_DOCKER_STATE/started.pid"
	ENGINE_STARTED=1
	for i in $(seq 1 60); do
		"$DOCKER" info >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	tail -n 20 "$ALLEGRO_DOCKER_STATE/dockerd.log" >&2
	engine_down
	die "docker: dockerd did not answer after ${i} tries (log: $ALLEGRO_DOCKER_STATE/dockerd.log)"
}

# engine_down: stops the dockerd that engine_up started (in this shell or an earlier one, as
# its started.pid says), and nothing else.
engine_down() {
	local pid
	pid=$(cat "$ALLEGRO_DOCKER_STATE/started.pid" 2>/dev/null || true)
	[[ -n $pid ]] || return 0
	if pid_alive "$pid" dockerd; then
		log "docker: stopping dockerd (pid $pid)"
		kill_pid "$pid" 30 || warn "docker: dockerd (pid $pid) did not stop"
	fi
	rm -f "$ALLEGRO_DOCKER_STATE/started.pid"
}

# apt_mirror: the machine's own Debian mirror (the URIs: of its deb822 sources, or the URL of
# a one-line `deb` source), so that no script names a host itself.
apt_mirror() {
	local m
	m=$(awk '/^Types:/ { deb = ($0 ~ /deb( |$)/) } deb && /^URIs:/ { print $2; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[[ -n $m ]] || m=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1)
	[[ -n $m ]] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"
	echo "$m"
}

# compose ARGS...: docker-compose on the deployment's files, in project $ALLEGRO_PROJECT
# (default "allegro"; the SUT file says which broker is the system under test).
compose() {
	"$COMPOSE" -p "${ALLEGRO_PROJECT:-allegro}" -f "$ALLEGRO_DOCKER_DIR/compose.yml" \
		-f "$ALLEGRO_DOCKER_DIR/sut-${ALLEGRO_SUT:-mosquitto}.yml" "$@"
}

# The results directory on the host, made before compose would make it (as root, empty), and
# absolute (compose would take a relative one from deploy/docker/).
results_dir() {
	ALLEGRO_RESULTS=$(realpath -m "${ALLEGRO_RESULTS:-$ALLEGRO_REPO/results/docker}")
	export ALLEGRO_RESULTS
	mkdir -p "$ALLEGRO_RESULTS"
}

# running_workers: how many worker containers of the deployment are running.
running_workers() {
	"$DOCKER" ps -q --filter "label=com.docker.compose.project=${ALLEGRO_PROJECT:-allegro}" \
		--filter label=com.docker.compose.service=worker --filter status=running | wc -l
}

# deployment_up WORKERS: images (built if missing), then broker, SUT and workers, detached.
deployment_up() {
	local workers=$1 i
	engine_up
	results_dir
	if ! "$DOCKER" image inspect "allegro:$ALLEGRO_TAG" "allegro-mosquitto:$ALLEGRO_TAG" \
		"allegro-rabbitmq:$ALLEGRO_TAG" >/dev/null 2>&1; then
		"$ALLEGRO_DOCKER_DIR/build" --tag "$ALLEGRO_TAG"
	fi
	log "docker: up: broker, sut ($ALLEGRO_SUT), $workers worker(s); results in $ALLEGRO_RESULTS"
	compose up -d --scale worker="$workers" broker sut worker >"$ALLEGRO_DOCKER_STATE/up.log" 2>&1 || {
		cat "$ALLEGRO_DOCKER_STATE/up.log" >&2
		compose logs --tail 30 >&2 || true
		die "docker: the deployment did not come up"
	}
	for i in $(seq 1 30); do
		[[ $(running_workers) -eq $workers ]] && return 0
		sleep 1
	done
	compose ps >&2 || true
	compose logs --tail 20 worker >&2 || true
	die "docker: $workers worker(s) asked for, $(running_workers) running after 30 s"
}

# deployment_down: containers and networks of the deployment go; results stay. Returns 1 (and
# says why) when they do not, so that a caller's cleanup goes on.
deployment_down() {
	results_dir
	compose --profile client down --remove-orphans --timeout 10 >"$ALLEGRO_DOCKER_STATE/down.log" 2>&1 || {
		cat "$ALLEGRO_DOCKER_STATE/down.log" >&2
		log "ERROR: docker: the deployment did not come down"
		return 1
	}
}
