# standins.sh: makes the example policies in policies/ runnable inside the
# test VM (source it from bash, as root, in the guest only). The examples
# name real services under /usr/local/bin, users and /srv paths; this puts
# small stand-ins there on tmpfs mounts, never touching the host's files.

standins_install() { # BUILD_DIR SOURCE_DIR
	local build=$1 src=$2 f
	for d in /usr/local/bin /srv /var/local /var/log; do
		mount -t tmpfs -o mode=0755 standins "$d" || return 1
	done
	mkdir -p /srv/app/public /srv/app/config /srv/recorder /var/log/guardian
	echo "<html><body>still alive</body></html>" >/srv/app/public/watchdog_page.html
	for f in recorder webapp sidekiq unicorn; do
		install -m 0755 "$src/tests/vm/standins/$f" "/usr/local/bin/$f" || return 1
	done
	# The recorder stand-in allocates with the memhog test helper.
	install -m 0755 "$build/tests/vm/memhog" /usr/local/bin/memhog || return 1
	# Users the examples run as (www-data is Debian's own).
	cp /etc/passwd /tmp/standins.passwd && cp /etc/group /tmp/standins.group || return 1
	local uid=990 u
	for u in recorder sidekiq unicorn; do
		grep -q "^$u:" /tmp/standins.passwd && continue
		echo "$u:x:$uid:$uid::/srv/app:/usr/sbin/nologin" >>/tmp/standins.passwd
		echo "$u:x:$uid:" >>/tmp/standins.group
		uid=$((uid - 1))
	done
	mount --bind /tmp/standins.passwd /etc/passwd && mount --bind /tmp/standins.group /etc/group
	chown recorder: /srv/recorder
}
