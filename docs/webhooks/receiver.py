"""A webhook receiver to try LeadGrid with: prints each event it verifies.

    python3 docs/webhooks/receiver.py PORT SECRET
"""

import http.server
import json
import sys

from verify import verify_leadgrid_signature

PORT, SECRET = int(sys.argv[1]), sys.argv[2]


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not verify_leadgrid_signature(self.headers["X-LeadGrid-Signature"], body, SECRET):
            self.send_response(400)
            self.end_headers()
            print("refused: the signature does not verify", flush=True)
            return
        event = json.loads(body)
        # Answer quickly; LeadGrid retries anything but a 2xx within 15 s.
        self.send_response(200)
        self.end_headers()
        print(f"verified {event['type']} {event['id']}: {json.dumps(event['data'])[:120]}", flush=True)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
