// Node's oidc-provider configured as the load driver's client_credentials peer: one confidential client
// authenticating with client_secret_basic, and access tokens issued as ES256-signed JWTs (RFC 9068) for one
// resource, as the identity server issues them. Prints `READY <token endpoint>` once listening.
// Usage: node oidc_provider_grants.mjs <client_id> <client_secret> <scope>
import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const [clientId, clientSecret, scope] = process.argv.slice(2);
const resource = 'https://api.example';
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: randomUUID() };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // The key set holds only the ES256 key; the default (RS256) would be refused.
    id_token_signed_response_alg: 'ES256',
    scope,
  }],
  jwks: { keys: [key] },
  scopes: [scope],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // JWT access tokens come only for a resource server; every grant gets the one resource.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope, audience: resource, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
// Its default logging of every grant would measure the console, not the provider.
provider.on('server_error', (ctx, error) => console.error(`server_error: ${error}`));
server.on('request', provider.callback());
console.log(`READY ${issuer}/token`);
