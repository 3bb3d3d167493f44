"""Sends a tracking event to Ensign over plain HTTP, with Python's standard
library only: python3 send_event.py [OFREP_URL] [SDK_KEY]"""
import json
import sys
import urllib.request

ofrep_url = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8016"
headers = {"content-type": "application/json"}
if len(sys.argv) > 2:
    headers["authorization"] = f"Bearer {sys.argv[2]}"
body = {
    "events": [
        {
            "name": "signup",
            "context": {"targetingKey": "user-42"},
            "details": {"source": "newsletter"},
        }
    ]
}
request = urllib.request.Request(
    f"{ofrep_url}/ensign/v1/events",
    data=json.dumps(body).encode(),
    headers=headers,
    method="POST",
)
with urllib.request.urlopen(request) as response:
    print(response.status, json.load(response))
