"""Drives the server with Ory's own Python SDK (ory-kratos-client 25.4.0), whose strict models must accept every
answer. Run by tests/kratos_sdk.rs with PUBLIC_URL and ADMIN_URL set; exits non-zero on the first failure."""

import base64
import hashlib
import hmac
import os
import struct
import time
from urllib.parse import parse_qs, urlparse

import ory_kratos_client as k
from ory_kratos_client.api.frontend_api import FrontendApi
from ory_kratos_client.api.identity_api import IdentityApi
from ory_kratos_client.exceptions import ApiException

PASSWORD = "correct-horse-battery-staple"
front = FrontendApi(k.ApiClient(k.Configuration(host=os.environ["PUBLIC_URL"])))
admin = IdentityApi(k.ApiClient(k.Configuration(host=os.environ["ADMIN_URL"])))


def step(name):
    print(f"-- {name}", flush=True)


def totp(uri, at):
    """RFC 6238 with the otpauth URI's parameters (SHA-1, 6 digits, 30 s unless it says otherwise)."""
    query = parse_qs(urlparse(uri).query)
    secret = query["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    period = int(query.get("period", ["30"])[0])
    digits = int(query.get("digits", ["6"])[0])
    mac = hmac.new(key, struct.pack(">Q", int(at) // period), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


step("admin creates an identity")
made = admin.create_identity(create_identity_body=k.CreateIdentityBody(
    schema_id="default", traits={"email": "made-by-admin@example.com"}))
assert made.traits["email"] == "made-by-admin@example.com"
assert admin.get_identity(id=made.id).id == made.id

step("native registration")
flow = front.create_native_registration_flow()
registered = front.update_registration_flow(flow=flow.id, update_registration_flow_body=k.UpdateRegistrationFlowBody(
    k.UpdateRegistrationFlowWithPasswordMethod(method="password", password=PASSWORD, traits={"email": "sdk@example.com"})))
token = registered.session_token
assert registered.identity.traits["email"] == "sdk@example.com"

step("native login and whoami")
flow = front.create_native_login_flow()
login = front.update_login_flow(flow=flow.id, update_login_flow_body=k.UpdateLoginFlowBody(
    k.UpdateLoginFlowWithPasswordMethod(method="password", identifier="sdk@example.com", password=PASSWORD)))
session = front.to_session(x_session_token=login.session_token)
assert session.identity.id == registered.identity.id

step("wrong password comes back as the flow with a message")
flow = front.create_native_login_flow()
try:
    front.update_login_flow(flow=flow.id, update_login_flow_body=k.UpdateLoginFlowBody(
        k.UpdateLoginFlowWithPasswordMethod(method="password", identifier="sdk@example.com", password="wrong-one")))
    raise AssertionError("a wrong password signed in")
except ApiException as error:
    assert error.status == 400, error.status
    shown = k.LoginFlow.from_json(error.body)
    assert shown.ui.messages[0].id == 4000006

step("list and revoke sessions")
others = front.list_my_sessions(x_session_token=token)
assert len(others) == 1, others
assert front.disable_my_other_sessions(x_session_token=token).count == 1

step("settings: change the password with a privileged session")
settings = front.create_native_settings_flow(x_session_token=token)
saved = front.update_settings_flow(flow=settings.id, x_session_token=token, update_settings_flow_body=k.UpdateSettingsFlowBody(
    k.UpdateSettingsFlowWithPasswordMethod(method="password", password="another-long-passphrase")))
assert saved.state == "success", saved.state

step("settings: enrol TOTP")
shown = front.update_settings_flow(flow=settings.id, x_session_token=token, update_settings_flow_body=k.UpdateSettingsFlowBody(
    k.UpdateSettingsFlowWithTotpMethod(method="totp")))
uri = next(node.attributes.actual_instance.text.text for node in shown.ui.nodes
           if node.type == "text" and node.attributes.actual_instance.id == "totp_secret_key")
now = time.time()
saved = front.update_settings_flow(flow=settings.id, x_session_token=token, update_settings_flow_body=k.UpdateSettingsFlowBody(
    k.UpdateSettingsFlowWithTotpMethod(method="totp", totp_code=totp(uri, now))))
assert saved.state == "success"

step("login with the second factor")
flow = front.create_native_login_flow()
try:
    front.update_login_flow(flow=flow.id, update_login_flow_body=k.UpdateLoginFlowBody(
        k.UpdateLoginFlowWithPasswordMethod(method="password", identifier="sdk@example.com", password="another-long-passphrase")))
    raise AssertionError("no second step")
except ApiException as error:
    assert error.status == 400, error.status
    second = k.LoginFlow.from_json(error.body)
    assert any(node.attributes.actual_instance.name == "totp_code" for node in second.ui.nodes if node.type == "input")
done = front.update_login_flow(flow=second.id, update_login_flow_body=k.UpdateLoginFlowBody(
    k.UpdateLoginFlowWithTotpMethod(method="totp", totp_code=totp(uri, now + 30))))
assert done.session.authenticator_assurance_level == "aal2"

step("admin recovery code, then the recovery flow and a new password")
code = admin.create_recovery_code_for_identity(create_recovery_code_for_identity_body=k.CreateRecoveryCodeForIdentityBody(
    identity_id=made.id, expires_in="1h", flow_type="api"))
flow_id = parse_qs(urlparse(code.recovery_link).query)["flow"][0]
recovered = front.update_recovery_flow(flow=flow_id, update_recovery_flow_body=k.UpdateRecoveryFlowBody(
    k.UpdateRecoveryFlowWithCodeMethod(method="code", code=code.recovery_code)))
assert recovered.state == "passed_challenge", recovered.state
actions = {item.actual_instance.action: item.actual_instance for item in recovered.continue_with}
new_token = actions["set_ory_session_token"].ory_session_token
assert front.to_session(x_session_token=new_token).identity.id == made.id
saved = front.update_settings_flow(flow=actions["show_settings_ui"].flow.id, x_session_token=new_token,
    update_settings_flow_body=k.UpdateSettingsFlowBody(
        k.UpdateSettingsFlowWithPasswordMethod(method="password", password="recovered-passphrase")))
assert saved.state == "success"

step("a recovered identity with a second factor must still present it")
code = admin.create_recovery_code_for_identity(create_recovery_code_for_identity_body=k.CreateRecoveryCodeForIdentityBody(
    identity_id=registered.identity.id, flow_type="api"))
flow_id = parse_qs(urlparse(code.recovery_link).query)["flow"][0]
recovered = front.update_recovery_flow(flow=flow_id, update_recovery_flow_body=k.UpdateRecoveryFlowBody(
    k.UpdateRecoveryFlowWithCodeMethod(method="code", code=code.recovery_code)))
one_factor = recovered.continue_with[0].actual_instance.ory_session_token
try:
    front.to_session(x_session_token=one_factor)
    raise AssertionError("a one-factor session passed whoami")
except ApiException as error:
    assert error.status == 403 and "session_aal2_required" in error.body

step("logout and delete")
front.perform_native_logout(perform_native_logout_body=k.PerformNativeLogoutBody(session_token=new_token))
try:
    front.to_session(x_session_token=new_token)
    raise AssertionError("the session outlived logout")
except ApiException as error:
    assert error.status == 401
admin.delete_identity(id=registered.identity.id)
try:
    admin.get_identity(id=registered.identity.id)
    raise AssertionError("the deleted identity is still there")
except ApiException as error:
    assert error.status == 404
print("ok")
