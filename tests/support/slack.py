"""The Slack app the tests run relops with: its signing secret, the intake's environment, and the app
manifest docs/guides/slack.md shows (held to each other by tests/unit/test_slack_guide.py)."""

from __future__ import annotations

from typing import Final

#: The app's signing secret in the tests; no log or stored text of the run may quote it.
SIGNING_SECRET: Final = "5ec7e7-slack-signing-0a1b2c3d4e5f"
#: The secret part of the response URLs the tests' clicks carry (a credential for the message).
RESPONSE_TOKEN: Final = "r3sp0nseT0k3nXYZ987"
#: The environment a `relops intake` taking Slack's clicks runs with in the tests: the response URLs
#: point at a local server on 127.0.0.1 instead of hooks.slack.com.
INTAKE_ENV: Final = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "RELOPS_SLACK_RESPONSE_HOSTS": "127.0.0.1"}
#: The Slack app manifest of the guide (https://api.slack.com/reference/manifests): an incoming webhook
#: for the alerts and interactivity sent to the intake; ``{intake}`` is where Slack reaches it.
APP_MANIFEST: Final = """\
display_information:
  name: relops
  description: Alerts from relops, acknowledged where you are paged
features:
  bot_user:
    display_name: relops
    always_online: false
oauth_config:
  scopes:
    bot:
      - incoming-webhook
settings:
  interactivity:
    is_enabled: true
    request_url: {intake}/api/v1/slack/interactions
  org_deploy_enabled: false
  socket_mode_enabled: false
  token_rotation_enabled: false
"""
