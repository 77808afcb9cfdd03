// A relying party built on Node's openid-client, driven by tests/openid_client.rs against the reference server:
// discovery, authorization code with PKCE (the "browser" carries the session cookie the test signed in with),
// ID token checks, userinfo, a refresh and client credentials. It prints what it got as one JSON line.
import * as client from 'openid-client';

const [issuer, clientId, clientSecret, redirectUri, sessionCookie] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, clientSecret, client.ClientSecretBasic(clientSecret), {
  // The test server speaks plain HTTP on loopback.
  execute: [client.allowInsecureRequests],
});

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
const answer = await fetch(authorizationUrl, { headers: { cookie: sessionCookie }, redirect: 'manual' });
const location = answer.headers.get('location');
if (!location || !location.startsWith(redirectUri)) {
  throw new Error(`the authorization endpoint answered ${answer.status} ${location}`);
}
const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const service = await client.clientCredentialsGrant(config, { scope: 'reports:read' });
console.log(JSON.stringify({
  sub: claims.sub,
  iss: claims.iss,
  email: userinfo.email,
  email_verified: userinfo.email_verified,
  first_refresh_token: tokens.refresh_token,
  refreshed_access_token: refreshed.access_token,
  service_access_token: service.access_token,
}));
