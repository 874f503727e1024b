#!/usr/bin/env python3
"""domrows.py DOM: the rows of every hosts table in a report's DOM, as
"server,host,port,requests" lines (port empty for names only resolved), and
the requests, host and port columns of the first hosts table as three lines, in DOM order."""
import sys
from html.parser import HTMLParser


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.server, self.tag, self.text, self.row, self.in_hosts = None, None, "", None, False
        self.rows, self.first, self.hosts, self.ports = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.in_hosts = "hosts" in a.get("class", "").split()
            self.tables = getattr(self, "tables", 0) + self.in_hosts
        elif tag == "tr" and self.in_hosts:
            self.row = []
        elif tag in ("td", "h2"):
            self.text = ""
        self.tag = tag

    def handle_data(self, data):
        self.text += data

    def handle_endtag(self, tag):
        if tag == "h2" and self.text.startswith("Server "):
            self.server = self.text[7:]
        elif tag == "td" and self.row is not None:
            self.row.append(self.text)
        elif tag == "tr" and self.row:
            host, port, req = self.row[0], self.row[1], self.row[2]
            self.rows.append(f"{self.server},{host},{'' if port == '0' else port},{req}")
            if self.tables == 1:
                self.first.append(req)
                self.hosts.append(host)
                self.ports.append(port)
            self.row = None
        elif tag == "table":
            self.in_hosts = False


p = Rows()
p.feed(open(sys.argv[1]).read())
print("\n".join(sorted(p.rows)))
print("first:" + " ".join(p.first))
print("firsthosts:" + " ".join(p.hosts))
print("firstports:" + " ".join(p.ports))
