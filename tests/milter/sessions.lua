-- sessions.lua - per-connection state: two interleaved connections, several
-- recipients each (miltertest).
--
-- libmilter serves connections from a pool of worker threads, so one
-- connection's client address must never leak into another's decisions.
-- Connection A comes from MT_IP_ALLOWED (in the relay table), B from
-- MT_IP_DENIED (not); their RCPTs alternate.  B's rejected recipient must
-- not end its transaction: a local recipient after it still passes.
--   MT_SOCKET, MT_IP_ALLOWED, MT_IP_DENIED, MT_LOCAL (a local-domain
--   recipient), MT_REMOTE (a remote one)

local sock = os.getenv("MT_SOCKET")
local ip_a = os.getenv("MT_IP_ALLOWED")
local ip_b = os.getenv("MT_IP_DENIED")
local lrcpt = os.getenv("MT_LOCAL")
local rrcpt = os.getenv("MT_REMOTE")
if sock == nil or ip_a == nil or ip_b == nil or lrcpt == nil or rrcpt == nil then
	error("MT_SOCKET, MT_IP_ALLOWED, MT_IP_DENIED, MT_LOCAL, MT_REMOTE must be set")
end

local function open(ip)
	local c = mt.connect(sock, 40, 0.05)
	if c == nil then error("cannot connect to " .. sock) end
	if mt.conninfo(c, "client.example", ip) ~= nil then error("conninfo") end
	if mt.helo(c, "client.example") ~= nil then error("helo") end
	if mt.mailfrom(c, "<sender@example.net>") ~= nil then error("mailfrom") end
	if mt.getreply(c) ~= SMFIR_CONTINUE then error("mail not continued") end
	return c
end

local function rcpt(c, who, r, want)
	if mt.rcptto(c, r) ~= nil then error("mt.rcptto() failed") end
	local got = mt.getreply(c)
	if got ~= want then
		error(string.format("%s rcpt %s: reply %s, want %s", who, r,
		                    tostring(got), tostring(want)))
	end
end

local a = open(ip_a)
local b = open(ip_b)
rcpt(a, "A", rrcpt, SMFIR_CONTINUE)
rcpt(b, "B", rrcpt, SMFIR_REPLYCODE)
rcpt(a, "A", rrcpt, SMFIR_CONTINUE)
rcpt(b, "B", lrcpt, SMFIR_CONTINUE)
rcpt(b, "B", rrcpt, SMFIR_REPLYCODE)
rcpt(a, "A", lrcpt, SMFIR_CONTINUE)
-- Both messages complete.
for _, c in ipairs({a, b}) do
	if mt.eom(c) ~= nil then error("mt.eom() failed") end
	if mt.getreply(c) ~= SMFIR_CONTINUE then error("eom not continued") end
end
-- A second transaction on connection B keeps B's client.
if mt.mailfrom(b, "<other@example.net>") ~= nil then error("mailfrom") end
rcpt(b, "B", rrcpt, SMFIR_REPLYCODE)
mt.disconnect(a)
mt.disconnect(b)
mt.echo("ok sessions")
