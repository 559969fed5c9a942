/*
 * fuzz_keyformat.c
 *		libFuzzer harness for src/keyformat.c: the API key format
 *		qk_<environment>_<32 random base62><6 base62 checksum>.
 *
 * Built with -fsanitize=fuzzer,address,undefined; the input buffer is
 * exactly as long as the input, with no terminating NUL.  Properties:
 *
 *  - rbac_key_parse agrees with an independent reference of the format,
 *    whose checksum is recomputed here from libsodium directly (so parse
 *    accepts a key exactly when its shape is right and its checksum is);
 *  - on success the environment it returns is valid and is the one in the
 *    key;
 *  - a generated key always parses, with its own environment, and
 *    generation succeeds exactly for valid environment labels and refuses
 *    a buffer one byte too small;
 *  - a generated key changed in one character, truncated or extended never
 *    parses, except for a genuine collision of the 32-bit checksum, which
 *    the reference recognises (about one change in 4 billion);
 *  - the stored hash is deterministic and differs for a changed key.
 *
 * Randomness comes from an input-seeded generator installed in libsodium,
 * so a failing input reproduces exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyformat.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); \
	abort(); } } while (0)

static const char b62[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Deterministic randomness for the harness only (xorshift64*). */
static uint64_t rng_state = 1;

static uint32_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static const char *
rng_name(void)
{
	return "fuzz-xorshift";
}

static uint32_t
rng_random(void)
{
	return rng_next();
}

static void
rng_buf(void *const buf, const size_t size)
{
	unsigned char *p = buf;
	size_t		i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char) rng_next();
}

static randombytes_implementation rng_impl = {
	rng_name, rng_random, NULL, NULL, rng_buf, NULL
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (randombytes_set_implementation(&rng_impl) != 0 ||
		rbac_keyformat_init() < 0)
		abort();
	return 0;
}

static int
ref_env(const char *s, size_t len)
{
	size_t		i;

	if (len < 1 || len > 16 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int
ref_b62(unsigned char c)
{
	return c != '\0' && memchr(b62, c, 62) != NULL;
}

/* The checksum as the format defines it, computed here independently. */
static void
ref_checksum(const char *s, size_t len, char out[6])
{
	static const char domain[] = "qilin_rbac key checksum v1";
	unsigned char d[16];
	uint32_t	v;
	int			i;

	crypto_generichash(d, sizeof(d), (const unsigned char *) s, len,
					   (const unsigned char *) domain, sizeof(domain) - 1);
	v = (uint32_t) d[0] | ((uint32_t) d[1] << 8) | ((uint32_t) d[2] << 16) |
		((uint32_t) d[3] << 24);
	for (i = 5; i >= 0; i--)
	{
		out[i] = b62[v % 62];
		v /= 62;
	}
}

static RbacKeyParseResult
ref_parse(const char *s, size_t len)
{
	const char *us;
	size_t		envlen;
	size_t		i;
	char		check[6];

	if (len < 3 || s[0] != 'q' || s[1] != 'k' || s[2] != '_')
		return RBAC_KEY_BAD_PREFIX;
	us = memchr(s + 3, '_', len - 3);
	if (us == NULL)
		return RBAC_KEY_BAD_ENVIRONMENT;
	envlen = (size_t) (us - (s + 3));
	if (!ref_env(s + 3, envlen))
		return RBAC_KEY_BAD_ENVIRONMENT;
	if (len - (3 + envlen + 1) != 38)
		return RBAC_KEY_BAD_LENGTH;
	for (i = 3 + envlen + 1; i < len; i++)
		if (!ref_b62((unsigned char) s[i]))
			return RBAC_KEY_BAD_CHARACTER;
	ref_checksum(s, len - 6, check);
	if (memcmp(check, s + len - 6, 6) != 0)
		return RBAC_KEY_BAD_CHECKSUM;
	return RBAC_KEY_OK;
}

/* Parse a copy exactly len bytes long, so ASan sees any overread. */
static RbacKeyParseResult
parse_exact(const char *s, size_t len, char *env)
{
	char	   *copy = malloc(len ? len : 1);
	RbacKeyParseResult r;

	memcpy(copy, s, len);
	r = rbac_key_parse(copy, len, env);
	free(copy);
	CHECK(r == ref_parse(s, len));
	CHECK(rbac_key_parse_detail(r) != NULL);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	char		env[RBAC_ENV_MAXLEN + 1];
	char		envname[32];
	char		key[RBAC_KEY_MAXLEN + 1];
	char		changed[RBAC_KEY_MAXLEN + 2];
	unsigned char h1[RBAC_KEY_HASH_BYTES];
	unsigned char h2[RBAC_KEY_HASH_BYTES];
	RbacKeyParseResult r;
	const char *nl;
	size_t		envlen;
	size_t		keylen;
	size_t		pos;
	uint64_t	seed = UINT64_C(1469598103934665603);
	size_t		i;

	/* 1. the input as a presented key */
	memset(env, 'x', sizeof(env));
	r = rbac_key_parse(s, size, env);
	CHECK(r == ref_parse(s, size));
	if (r == RBAC_KEY_OK)
	{
		envlen = strlen(env);
		CHECK(ref_env(env, envlen));
		CHECK(size == 3 + envlen + 1 + RBAC_KEY_BODY_CHARS);
		CHECK(memcmp(s + 3, env, envlen) == 0 && s[3 + envlen] == '_');
		CHECK(rbac_key_parse(s, size, NULL) == RBAC_KEY_OK);
	}
	else
		CHECK(env[0] == '\0');

	/* 2. a key generated for the environment named by the first line */
	nl = memchr(s, '\n', size);
	envlen = nl ? (size_t) (nl - s) : size;
	if (envlen >= sizeof(envname))
		return 0;
	memcpy(envname, s, envlen);
	envname[envlen] = '\0';
	i = (nl ? envlen + 1 : size);	/* where the changes start */
	envlen = strlen(envname);	/* the label ends at a NUL, if any */
	for (pos = 0; pos < size; pos++)
		seed = (seed ^ data[pos]) * UINT64_C(1099511628211);
	rng_state = seed | 1;

	if (!rbac_key_generate(envname, key, sizeof(key)))
	{
		CHECK(!ref_env(envname, strlen(envname)));
		return 0;
	}
	CHECK(ref_env(envname, strlen(envname)));
	keylen = strlen(key);
	CHECK(keylen == 3 + envlen + 1 + RBAC_KEY_BODY_CHARS);
	CHECK(parse_exact(key, keylen, env) == RBAC_KEY_OK);
	CHECK(strcmp(env, envname) == 0);
	{
		/* one byte short of room for the NUL: refused, nothing written */
		char	   *small = malloc(keylen);

		CHECK(!rbac_key_generate(envname, small, keylen));
		free(small);
	}

	/* truncated or extended by one character: never valid */
	CHECK(parse_exact(key, keylen - 1, NULL) == RBAC_KEY_BAD_LENGTH);
	memcpy(changed, key, keylen);
	changed[keylen] = 'a';
	CHECK(parse_exact(changed, keylen + 1, NULL) == RBAC_KEY_BAD_LENGTH);

	rbac_key_hash(key, keylen, h1);
	rbac_key_hash(key, keylen, h2);
	CHECK(memcmp(h1, h2, sizeof(h1)) == 0);

	/* 3. the rest of the input: (position, byte) pairs, one change each */
	for (; i + 1 < size; i += 2)
	{
		pos = data[i] % keylen;
		if ((char) data[i + 1] == key[pos])
			continue;
		memcpy(changed, key, keylen);
		changed[pos] = (char) data[i + 1];
		r = parse_exact(changed, keylen, NULL);
		if (r == RBAC_KEY_OK)
		{
			/*
			 * Only a collision of the checksum may pass, and only for a
			 * change before it: the checksum of an unchanged prefix is
			 * fixed, so a changed checksum character never passes.
			 */
			CHECK(pos >= 3 && pos < keylen - RBAC_KEY_CHECK_CHARS);
			fprintf(stderr, "checksum collision at position %zu\n", pos);
		}
		else if (pos >= keylen - RBAC_KEY_CHECK_CHARS)
			CHECK(r == RBAC_KEY_BAD_CHECKSUM || r == RBAC_KEY_BAD_CHARACTER);
		else if (pos < 3)
			CHECK(r == RBAC_KEY_BAD_PREFIX);
		rbac_key_hash(changed, keylen, h2);
		CHECK(memcmp(h1, h2, sizeof(h1)) != 0);
	}
	return 0;
}
