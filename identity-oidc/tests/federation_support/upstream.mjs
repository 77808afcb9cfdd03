// A real OpenID Connect provider (Node's `oidc-provider`) on a loopback port, for the federation end-to-end test.
// Interactions finish without a browser: any interaction signs in the account `ada` and grants what was asked.
// Prints `READY <issuer>` once listening. Usage: node upstream.mjs <client_id> <client_secret> <redirect_uri>
import http from 'node:http';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri] = process.argv.slice(2);
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  // The claims go into the ID token itself, as Google's and Entra's do.
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['federation-e2e-cookie-key'] },
  findAccount: async (ctx, accountId) => ({
    accountId,
    claims: async () => ({
      sub: accountId, email: 'ada@example.com', email_verified: true, given_name: 'Ada', family_name: 'Lovelace',
    }),
  }),
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (!req.url.startsWith('/interaction/')) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const accountId = 'ada';
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false });
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

console.log(`READY ${issuer}`);
