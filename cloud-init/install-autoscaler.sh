#!/bin/sh
# Run once, as root, by Terraform's delivery step (terraform/delivery.tf) with
# the directory it uploaded: the crate's source and secrets/*.env. Builds and
# installs the autoscaler, installs the secrets (0600), starts the services,
# then closes the SSH password login the delivery used.
set -eu
src=${1:?usage: install-autoscaler SOURCE_DIR}
export RUSTUP_HOME=/opt/rust CARGO_HOME=/opt/rust
cargo=/opt/rust/bin/cargo
if [ ! -x "$cargo" ]; then
    echo "install-autoscaler: $cargo is missing: cloud-init did not finish installing Rust; see /var/log/cloud-init-output.log, then re-run terraform apply" >&2
    exit 1
fi

cd "$src"
"$cargo" build --release --locked --package autoscaler
install -m 0755 target/release/autoscaler /usr/local/bin/autoscaler
for f in api.env webhook.env grafana.env; do
    install -m 0600 -o root -g root "secrets/$f" "/etc/autoscaler/$f"
done
cd /
rm -rf "$src"

systemctl daemon-reload
systemctl enable --now autoscaler-listen.service autoscaler-discover.timer autoscaler-scale-tick.timer
# Grafana starts only now, with its admin password and the webhook secret in
# place (its admin user is created on first start).
systemctl enable grafana-server.service
systemctl restart grafana-server.service

# Close the delivery door: no password login any more, and the password is locked.
printf 'PasswordAuthentication no\n' >/etc/ssh/sshd_config.d/10-autoscaler-no-password.conf
passwd --lock "${SUDO_USER:-ubuntu}" >/dev/null
# try-reload: on socket-activated sshd (Ubuntu 24.04) the service may be inactive.
systemctl try-reload-or-restart ssh.service
echo "install-autoscaler: $(/usr/local/bin/autoscaler --version) installed and running"
