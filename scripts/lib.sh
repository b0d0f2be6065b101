# shellcheck shell=bash
# Shared helpers for scripts/setup and scripts/stop-brokers. Source it; do not run it.
#
# Everything the scripts start is recorded under $ALLEGRO_STATE_DIR (one folder per broker,
# each with a state.env holding PID=... and the chosen ports). A broker counts as "ours"
# only while that state.env exists and its PID is alive and still looks like the broker.

ALLEGRO_STATE_DIR=${ALLEGRO_STATE_DIR:-/var/tmp/allegro-brokers}
ALLEGRO_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALLEGRO_BROKERS=(mosquitto rabbitmq activemq)

# Every port of the plan, so that a fallback port picked for one broker never takes the
# planned port of another.
ALLEGRO_PLANNED_PORTS=(1883 5672 61613 1884 61616 61614 1885 8883 8884 5671 61615 8885 61617 8886)

# Test TLS material (a CA, a server certificate for localhost and 127.0.0.1, a client
# certificate, and a second CA that signed nothing here), written by scripts/setup.
ALLEGRO_TLS_DIR=$ALLEGRO_STATE_DIR/tls

# Where each broker's pid lives, and what its command line looks like (so a recycled pid is
# not taken for the broker).
# shellcheck disable=SC2034  # used by the scripts that source this file
{
	MOSQ_DIR=$ALLEGRO_STATE_DIR/mosquitto
	MOSQ_PAT="mosquitto -c $MOSQ_DIR/mosquitto.conf"
	RABBIT_DIR=$ALLEGRO_STATE_DIR/rabbitmq
	RABBIT_PAT='beam.*-s rabbit'
	AMQ_DIR=$ALLEGRO_STATE_DIR/activemq
	AMQ_INSTANCE=main
	AMQ_BASE=/var/lib/activemq/$AMQ_INSTANCE
	AMQ_PIDFILE=/var/run/activemq/$AMQ_INSTANCE.pid
	AMQ_PAT="activemq\\.base=$AMQ_BASE( |\$)"
}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
	log "ERROR: $*"
	exit 1
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts system services)"
}

# Seconds since the epoch, with fractions.
now() { date +%s.%N; }

# elapsed START -> "12.3"
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# Expand "all" and check names. Prints one broker per line, in plan order, no duplicates.
parse_brokers() {
	local want=("$@") b w seen=" "
	[[ ${#want[@]} -gt 0 ]] || want=(all)
	for w in "${want[@]}"; do
		case $w in
		all | mosquitto | rabbitmq | activemq) ;;
		*) die "unknown broker '$w' (expected: all mosquitto rabbitmq activemq)" ;;
		esac
	done
	for b in "${ALLEGRO_BROKERS[@]}"; do
		for w in "${want[@]}"; do
			if [[ $w == all || $w == "$b" ]] && [[ $seen != *" $b "* ]]; then
				seen+="$b "
				echo "$b"
			fi
		done
	done
}

# One setup or stop at a time on this machine. The lock is fd 9: every command that starts a
# daemon must close it (`9>&-`), or the daemon holds the lock for as long as it runs.
take_lock() {
	mkdir -p "$ALLEGRO_STATE_DIR"
	exec 9>"$ALLEGRO_STATE_DIR/lock"
	if ! flock -n 9; then
		log "another scripts/setup or scripts/stop-brokers is running; waiting for it (max 10 min)"
		flock -w 600 9 || die "timed out waiting for $ALLEGRO_STATE_DIR/lock"
	fi
}

# --- processes -------------------------------------------------------------------------

# pid_alive PID [REGEX]: the process exists (and its command line matches REGEX).
pid_alive() {
	local pid=$1 pattern=${2:-}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	[[ -z $pattern ]] && return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq -- "$pattern"
}

# kill_pid PID [TIMEOUT_S]: SIGTERM, wait, then SIGKILL.
kill_pid() {
	local pid=$1 timeout=${2:-30} i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	warn "pid $pid ignored SIGTERM for ${timeout}s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# --- broker state ----------------------------------------------------------------------

state_dir() { echo "$ALLEGRO_STATE_DIR/$1"; }
state_file() { echo "$ALLEGRO_STATE_DIR/$1/state.env"; }

# state_get BROKER KEY: a value from the broker's state.env (empty if none).
state_get() {
	local f
	f=$(state_file "$1")
	[[ -f $f ]] || return 0
	sed -n "s/^$2=//p" "$f" | tail -n 1
}

# state_write BROKER KEY=VALUE...
state_write() {
	local b=$1 f
	shift
	f=$(state_file "$b")
	mkdir -p "$(dirname "$f")"
	printf '%s\n' "$@" >"$f.tmp"
	mv -f "$f.tmp" "$f"
}

state_clear() { rm -f "$(state_file "$1")"; }

# Ports recorded for the brokers other than $1 (so a fallback port does not collide).
ports_of_other_brokers() {
	local b f
	for b in "${ALLEGRO_BROKERS[@]}"; do
		[[ $b == "$1" ]] && continue
		f=$(state_file "$b")
		[[ -f $f ]] && sed -n 's/^[A-Z_]*_PORT=\([0-9][0-9]*\)$/\1/p' "$f"
	done
	return 0
}

# --- ports -----------------------------------------------------------------------------

# port_answers HOST PORT: something accepts a TCP connection there (2 s max).
port_answers() {
	# shellcheck disable=SC2016  # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# port_listening PORT: some socket listens on PORT on any address.
port_listening() {
	command -v ss >/dev/null || return 1
	[[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]
}

port_busy() { port_listening "$1" || port_answers 127.0.0.1 "$1"; }

# pick_port WANTED [AVOID...]: WANTED if free, otherwise the first free port above it that is
# neither planned for another broker nor in AVOID. Logs when it has to move.
pick_port() {
	local wanted=$1 p avoid
	shift
	avoid=" ${ALLEGRO_PLANNED_PORTS[*]} $* "
	if ! port_busy "$wanted"; then
		echo "$wanted"
		return 0
	fi
	for ((p = wanted + 1; p < wanted + 500 && p < 65536; p++)); do
		[[ $avoid == *" $p "* ]] && continue
		if ! port_busy "$p"; then
			warn "port $wanted is held by another process ($(port_owner "$wanted")); using $p instead"
			echo "$p"
			return 0
		fi
	done
	die "no free port found above $wanted"
}

port_owner() {
	local o
	o=$(ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n 1) || true
	echo "${o:-unknown owner}"
}

# wait_for_ports TIMEOUT_S PID_REGEX PIDFILE_OR_PID HOST PORT [PORT...]
# Waits until every PORT on HOST accepts a connection. Returns 1 on timeout, 2 if the
# broker's process is gone (when a PID or pid file is given and it has shown a PID).
wait_for_ports() {
	local timeout=$1 pattern=$2 pidref=$3 host=$4 deadline pid p ok
	shift 4
	deadline=$((SECONDS + timeout))
	while :; do
		ok=1
		for p in "$@"; do
			if ! port_answers "$host" "$p"; then
				ok=0
				break
			fi
		done
		[[ $ok -eq 1 ]] && return 0
		if [[ -n $pidref ]]; then
			if [[ $pidref =~ ^[0-9]+$ ]]; then pid=$pidref; else pid=$(cat "$pidref" 2>/dev/null || true); fi
			if [[ -n $pid ]] && ! pid_alive "$pid" "$pattern"; then
				return 2
			fi
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# show_logs FILE...: the last lines of each existing log, on stderr.
show_logs() {
	local f
	for f in "$@"; do
		[[ -s $f ]] || continue
		printf '%s\n' "----- last 40 lines of $f -----" >&2
		tail -n 40 "$f" >&2
	done
	printf '%s\n' "-----" >&2
}

# --- packages --------------------------------------------------------------------------

deb_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# Upstream version of an installed package ("3.10.8-1.1+deb12u1" -> "3.10.8").
deb_version() {
	local v
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 0
	v=${v#*:}
	echo "${v%%[-+~]*}"
}

_ALLEGRO_APT_UPDATED=0
ALLEGRO_INSTALLED=0 # set to 1 by ensure_packages when it installed something

# ensure_packages PKG...: install the missing ones, running `apt-get update` once first.
ensure_packages() {
	local missing=() p
	ALLEGRO_INSTALLED=0
	for p in "$@"; do
		deb_installed "$p" || missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	# shellcheck disable=SC2034  # read by scripts/setup
	ALLEGRO_INSTALLED=1
	command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get"
	export DEBIAN_FRONTEND=noninteractive
	if [[ $_ALLEGRO_APT_UPDATED -eq 0 ]]; then
		log "apt-get update"
		apt-get update -q >"$ALLEGRO_STATE_DIR/apt.log" 2>&1 || {
			tail -n 20 "$ALLEGRO_STATE_DIR/apt.log" >&2
			die "apt-get update failed"
		}
		_ALLEGRO_APT_UPDATED=1
	fi
	log "apt-get install ${missing[*]}"
	# Keep our edited config files (rabbitmq.conf, activemq.xml) if a package is upgraded.
	apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}" >>"$ALLEGRO_STATE_DIR/apt.log" 2>&1 || {
		tail -n 30 "$ALLEGRO_STATE_DIR/apt.log" >&2
		die "apt-get install ${missing[*]} failed (log: $ALLEGRO_STATE_DIR/apt.log)"
	}
}

# write_if_changed FILE: stdin to FILE unless identical. Returns 0 if FILE changed.
write_if_changed() {
	local f=$1 tmp
	tmp=$(mktemp "$f.XXXXXX")
	cat >"$tmp"
	if [[ -f $f ]] && cmp -s "$tmp" "$f"; then
		rm -f "$tmp"
		return 1
	fi
	chmod 644 "$tmp"
	mv -f "$tmp" "$f"
	return 0
}

# --- the endpoints file the tests read -------------------------------------------------

brokers_env_file() {
	if [[ -n ${ALLEGRO_BROKERS_ENV:-} ]]; then
		echo "$ALLEGRO_BROKERS_ENV"
		return
	fi
	local top
	top=$(git -C "$ALLEGRO_SCRIPTS_DIR" rev-parse --show-toplevel 2>/dev/null) ||
		top=$(cd "$ALLEGRO_SCRIPTS_DIR/.." && pwd)
	echo "$top/.brokers.env"
}

# The keys each broker owns in the endpoints file, in the order they are written.
broker_env_keys() {
	case $1 in
	mosquitto) echo MOSQUITTO_MQTT MOSQUITTO_MQTTS MOSQUITTO_MQTTS_CLIENT_CERT ALLEGRO_TLS_DIR ;;
	rabbitmq) echo RABBITMQ_AMQP RABBITMQ_STOMP RABBITMQ_MQTT RABBITMQ_AMQPS RABBITMQ_STOMPS RABBITMQ_MQTTS ;;
	activemq) echo ACTIVEMQ_OPENWIRE ACTIVEMQ_STOMP ACTIVEMQ_MQTT ACTIVEMQ_STOMPS ACTIVEMQ_MQTTS ;;
	esac
}

# brokers_env_update DROP_BROKERS KEY=VALUE...
# Rewrites the endpoints file: drops the keys of the brokers in DROP_BROKERS (a space
# separated list), sets the given KEY=VALUE pairs, keeps every other KEY=VALUE line.
brokers_env_update() {
	local drop=" $1 " file b k line key
	shift
	file=$(brokers_env_file)
	declare -A val=()
	local order=()
	if [[ -f $file ]]; then
		while IFS= read -r line || [[ -n $line ]]; do
			[[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
			key=${BASH_REMATCH[1]}
			[[ -v val[$key] ]] || order+=("$key")
			val[$key]=${BASH_REMATCH[2]}
		done <"$file"
	fi
	for b in "${ALLEGRO_BROKERS[@]}"; do
		[[ $drop == *" $b "* ]] || continue
		for k in $(broker_env_keys "$b"); do unset "val[$k]"; done
	done
	for line in "$@"; do
		key=${line%%=*}
		[[ -v val[$key] ]] || order+=("$key")
		val[$key]=${line#*=}
	done
	local known=() out
	for b in "${ALLEGRO_BROKERS[@]}"; do
		for k in $(broker_env_keys "$b"); do known+=("$k"); done
	done
	out=$(
		echo "# Broker endpoints written by scripts/setup (removed by scripts/stop-brokers)."
		echo "# Shell-sourceable: set -a; . ./.brokers.env; set +a"
		for k in "${known[@]}"; do
			[[ -v val[$k] ]] && echo "$k=${val[$k]}"
		done
		for k in "${order[@]}"; do
			[[ " ${known[*]} " == *" $k "* ]] && continue
			[[ -v val[$k] ]] && echo "$k=${val[$k]}"
		done
		true
	)
	mkdir -p "$(dirname "$file")"
	printf '%s\n' "$out" >"$file.tmp.$$"
	mv -f "$file.tmp.$$" "$file"
}
