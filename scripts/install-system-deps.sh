#!/usr/bin/env bash
# The one script that installs the Debian packages ghes-setup's lab and tests need.
# Used by the README's commands and by .ci/run. Idempotent: installs only what is missing.
#   openssh-server  the lab's admin shell (sshd on the lab's port 122)
#   nginx           the lab's front door (443/8443, SNI)
#   docker-registry the CNCF distribution registry behind containers.HOSTNAME
#   dnsmasq         the lab's DNS server (HOSTNAME and *.HOSTNAME)
#   skopeo          the independent registry client that cross-checks ours
#   git             `ghe-config` in the lab is git-config over settings files
#   openssh-client  ssh/ssh-keygen (keys, and the benchmark's baseline)
#   dnsutils        dig (the benchmark's baseline loop)
#   openssl         s_client (the benchmark's baseline loop)
#   python3         /usr/bin/python3 runs the lab admin shell's ghe-labctl (stdlib only)
#   util-linux      flock and unshare (the lab's ghe-config; skopeo under a private /etc/hosts)
#   tinyproxy       the egress HTTP proxy `client check`'s tests put between a runner and the lab
#   prometheus      promtool: `promtool check/test rules` runs the shipped alert rules on real textfiles
#   iproute2, procps, python3-venv
#   nodejs, npm     run Azurite, the lab's Azure Blob Storage server (scripts/install-lab-node.sh);
#                   only when `node`/`npm` are missing (a Node from elsewhere, e.g. NodeSource's
#                   nodejs that bundles npm, is kept)
set -euo pipefail

packages=(openssh-server openssh-client nginx docker-registry dnsmasq skopeo git dnsutils openssl
          iproute2 procps python3 python3-venv util-linux ca-certificates tinyproxy prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]} == 0)); then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
# policy-rc.d on this kind of machine keeps apt from starting the system services; the lab
# runs its own instances and never needs them.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
