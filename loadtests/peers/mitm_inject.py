"""mitmproxy addon for the loadtests `bump-inject` scenario: sets the credential header on
every intercepted request (the value is read once from the file named below)."""

KEY = open("{{KEY_FILE}}", encoding="utf-8").read().strip()


class Inject:
    def request(self, flow):
        flow.request.headers["x-api-key"] = KEY


addons = [Inject()]
