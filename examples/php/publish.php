<?php
// Signs a uid for the browser and pushes a message for it, with phpredis.
//
//   SIGN_SECRET=... [REDIS_URL=redis://127.0.0.1:6379] [KEY_PREFIX=Q/MSG] \
//     php examples/php/publish.php <uid> <message> [<seconds until the signature expires>]
//
// Prints the query the page polls with: uid=42&sign=<hex>, or uid=42&exp=<unix seconds>&sign=<hex>.

function fail(string $message, int $code = 2): never
{
    fwrite(STDERR, $message . PHP_EOL);
    exit($code);
}

/** The signature the server checks: hex HMAC-SHA256 of the uid, or of uid + "\n" + exp. */
function sign_uid(string $secret, string $uid, ?int $exp): string
{
    return hash_hmac('sha256', $exp === null ? $uid : $uid . "\n" . $exp, $secret);
}

if ($argc < 3 || $argc > 4) {
    fail('Usage: publish.php <uid> <message> [<seconds until the signature expires>]');
}
[, $uid, $message] = $argv;
// A list while a secret rotates: the first one signs.
$secret = explode(',', getenv('SIGN_SECRET') ?: '')[0];
if ($secret === '') fail('Cannot sign: SIGN_SECRET is not set');
if ($uid === '' || strlen($uid) > 256 || preg_match('/[\x00-\x1f\x7f]/', $uid)) {
    fail("Cannot sign \"$uid\": a uid is 1 to 256 bytes with no control characters");
}
if ($message === '') fail('Cannot publish: the message is empty');
$exp = null;
if ($argc === 4) {
    if (!preg_match('/^[1-9][0-9]{0,8}$/', $argv[3])) {
        fail("Cannot sign: \"{$argv[3]}\" is not a whole number of seconds above 0");
    }
    $exp = time() + (int) $argv[3];
}

$url = getenv('REDIS_URL') ?: 'redis://127.0.0.1:6379';
$parts = parse_url($url);
if ($parts === false || !isset($parts['host'])) fail("Cannot read REDIS_URL: \"$url\" is not a redis:// URL");
try {
    $redis = new Redis();
    $redis->connect($parts['host'], $parts['port'] ?? 6379, 2.0);
    if (isset($parts['pass'])) {
        $redis->auth(isset($parts['user']) ? [$parts['user'], $parts['pass']] : $parts['pass']);
    }
    $db = ltrim($parts['path'] ?? '', '/');
    if ($db !== '') $redis->select((int) $db);
    // LPUSH Q/MSG<uid> <message>; the server pops the oldest first.
    $redis->lPush((getenv('KEY_PREFIX') ?: 'Q/MSG') . $uid, $message);
} catch (RedisException $error) {
    fail("Cannot publish: Redis at \"$url\" refused or is unreachable: {$error->getMessage()}", 1);
}

$query = ['uid' => $uid];
if ($exp !== null) $query['exp'] = $exp;
$query['sign'] = sign_uid($secret, $uid, $exp);
echo http_build_query($query, '', '&', PHP_QUERY_RFC3986) . PHP_EOL;
