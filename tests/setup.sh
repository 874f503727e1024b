#!/usr/bin/env bash
# setup.sh: install every Debian 12 package sluice needs to build and test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config clang libclang-rt-14-dev \
	libevent-dev libc-ares-dev libssl-dev libnftnl-dev libmnl-dev \
	libyaml-dev libjansson-dev libpsl-dev publicsuffix libcmocka-dev libseccomp-dev zlib1g-dev \
	nginx-light dnsmasq-base bind9-dnsutils curl jq openssl ca-certificates python3 iproute2 util-linux \
	nftables iputils-ping git procps mount apt-utils gpg python3-pip logrotate systemd \
	chromium poppler-utils time python3-yaml \
	docker.io podman uidmap slirp4netns fuse-overlayfs catatonit crun busybox-static \
	>/dev/null
