#!/usr/bin/env python3
"""Submits one message with Python's standard smtplib.

usage: smtplib_client.py MODE PORT CAFILE USER PASSWORD FROM TO[,TO...] MESSAGE_FILE [MAIL_OPTION...]
MODE: starttls | ssl | plain-noauth (plain: tries AUTH without TLS; must not be offered)
Prints one line per step; exit status 0 when the message was accepted.
"""
import smtplib
import ssl
import sys

mode, port, cafile, user, password, sender, recipients, message_file = sys.argv[1:9]
mail_options = sys.argv[9:]
recipients = recipients.split(",")
with open(message_file, "rb") as handle:
    message = handle.read()

context = ssl.create_default_context(cafile=cafile)
# Connecting by IP address: the certificate chain is verified, the name is not.
context.check_hostname = False
if mode == "ssl":
    client = smtplib.SMTP_SSL("127.0.0.1", int(port), context=context, timeout=30,
                              local_hostname="client.example")
else:
    client = smtplib.SMTP("127.0.0.1", int(port), timeout=30, local_hostname="client.example")
client.ehlo()
if mode == "plain-noauth":
    print("auth offered in plain:", client.has_extn("auth"))
    try:
        client.login(user, password)
        print("login: accepted")
    except smtplib.SMTPNotSupportedError:
        print("login: not supported")
    except smtplib.SMTPException as error:
        print("login: refused", error)
    client.quit()
    sys.exit(0)
if mode == "starttls":
    client.starttls(context=context)
    client.ehlo()
print("extensions:", " ".join(sorted(client.esmtp_features)))
client.login(user, password)
print("login: ok")
refused = client.sendmail(sender, recipients, message, mail_options=mail_options)
print("refused:", ",".join(sorted(refused)))
client.quit()
print("done")
