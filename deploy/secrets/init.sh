#!/usr/bin/env bash
# Writes the compose stack's secret files (once; existing files are kept).
# Slack and PagerDuty: put the real webhook URL and routing key in the files
# this leaves empty before starting Alertmanager.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
random() { head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c "$1"; }
[ -s postgres_password ] || random 32 > postgres_password
[ -s database_url ] || printf 'postgres://ntsb:%s@postgres:5432/ntsb' "$(cat postgres_password)" > database_url
[ -s jwt_secret ] || random 48 > jwt_secret
[ -s grafana_admin_password ] || random 24 > grafana_admin_password
[ -e slack_webhook_url ] || : > slack_webhook_url
[ -e pagerduty_routing_key ] || : > pagerduty_routing_key
ls -l
