// SPDX-License-Identifier: MIT
// The tests' certificates for TLS against real servers: made by Debian's
// openssl in a temporary directory the test owns.
#pragma once

#include <cstdlib>
#include <string>

#include "support/temp_dir.hpp"

namespace offhand::test {

// A CA, a server certificate for 127.0.0.1 and localhost it signed (and
// its key), and a second CA that signed nothing (a client trusting only it
// must refuse the server). Files in `dir`: ca.pem, ca.key, server.pem,
// server.key, other-ca.pem.
struct TestPki {
  std::string ca, ca_key, cert, key, other_ca;

  // false when openssl is missing or fails.
  static bool make(const TempDir& dir, TestPki& out) {
    out.ca = dir.file("ca.pem");
    out.ca_key = dir.file("ca.key");
    out.cert = dir.file("server.pem");
    out.key = dir.file("server.key");
    out.other_ca = dir.file("other-ca.pem");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    write_file(dir.file("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    const std::string cmd =
        "cd '" + dir.path() + "' && openssl req -x509 " + ec +
        " -days 2 -subj /CN=offhand-test-ca -keyout ca.key -out ca.pem"
        " && openssl req -x509 " + ec + " -days 2 -subj /CN=other-ca -keyout other-ca.key -out other-ca.pem"
        " && openssl req " + ec + " -subj /CN=localhost -keyout server.key -out server.csr"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile ext -out server.pem";
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
};

}  // namespace offhand::test
