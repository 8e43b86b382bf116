#!/usr/bin/env bash
# Rebuilds testdata/sample/: the stores the README's quick start lists.
# Made with the real tools (openssl, keytool), so keyway is shown reading what they write.
#   bash testdata/make-sample.sh        (needs openssl and a JDK's keytool)
# Store password of every store: changeit. Certificates are valid for 20 years from creation.
set -euo pipefail
cd "$(dirname "$0")/sample"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=7300

# Acme's own CA and the client certificate Acme's connectors present (two-way TLS).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=Acme Integration Root CA/O=Acme Corp" -keyout "$work/acme-ca.key" -out acme-ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=acme-connector/O=Acme Corp" -keyout "$work/client.key" -out "$work/client.csr"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' > "$work/client.ext"
openssl x509 -req -in "$work/client.csr" -CA acme-ca.pem -CAkey "$work/acme-ca.key" -CAcreateserial \
  -days "$days" -extfile "$work/client.ext" -out "$work/client.pem"

# Partners whose endpoints the connectors call (one-way TLS): their roots go in the truststore.
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=Partner Root CA/O=Partner Inc" \
  -keyout "$work/partner.key" -out partner-root.pem -addext "basicConstraints=critical,CA:TRUE"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days "$days" \
  -subj "/CN=Legacy Bank Root/O=Legacy Bank/C=DE" -keyout "$work/bank.key" -out "$work/bank-root.pem" \
  -addext "basicConstraints=critical,CA:TRUE"

rm -f partners.jks client.p12
openssl pkcs12 -export -inkey "$work/client.key" -in "$work/client.pem" -certfile acme-ca.pem \
  -name acme-client -passout pass:changeit -out client.p12
keytool -importkeystore -srckeystore client.p12 -srcstoretype PKCS12 -srcstorepass changeit \
  -destkeystore partners.jks -deststoretype JKS -deststorepass changeit -destkeypass changeit -noprompt
keytool -importcert -noprompt -keystore partners.jks -storepass changeit -alias partner-root -file partner-root.pem
keytool -importcert -noprompt -keystore partners.jks -storepass changeit -alias legacy-bank -file "$work/bank-root.pem"
# A JCEKS store as older Java middleware keeps them: the same entries plus a secret key.
rm -f legacy.jceks
keytool -importkeystore -srckeystore partners.jks -srcstorepass changeit -destkeystore legacy.jceks \
  -deststoretype JCEKS -deststorepass changeit -noprompt
keytool -genseckey -keystore legacy.jceks -storetype JCEKS -storepass changeit -keypass changeit \
  -alias connector-aes -keyalg AES -keysize 128
rm -f acme-ca.srl
echo "wrote $(pwd)/partners.jks, client.p12, legacy.jceks, acme-ca.pem, partner-root.pem"
