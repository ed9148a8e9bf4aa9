-- checks.lua - one SMTP session through leafmail-milter's connect, HELO
-- and header checks (miltertest).
--
-- Driven by checks.t through the environment:
--   MT_SOCKET   the milter's socket ("unix:/path")
--   MT_IP       client address
--   MT_HELO     HELO argument
--   MT_HEADERS  header lines separated by "|" ("From: a|Date: b"), may be empty
--   MT_EXPECT   the stage that must be refused: "connect", "helo",
--               "mail" or "eoh" (the filter set an SMTP reply there), or
--               "none" (the whole message passes)
-- checks.t checks the reply texts with milterchat.py, because
-- mt.getreply() can't tell them apart.  Any deviation raises an error,
-- so miltertest exits non-zero.

local sock = os.getenv("MT_SOCKET")
local ip = os.getenv("MT_IP")
local helo = os.getenv("MT_HELO") or "client.example"
local headers = os.getenv("MT_HEADERS") or ""
local expect = os.getenv("MT_EXPECT")
if sock == nil or ip == nil or expect == nil then
	error("MT_SOCKET, MT_IP and MT_EXPECT must be set")
end

local function name(r)
	if r == SMFIR_CONTINUE then return "continue" end
	if r == SMFIR_REPLYCODE then return "reply" end
	return "code " .. tostring(r)
end

-- stage: its reply must be REPLYCODE if it is the expected stage, else
-- CONTINUE; true when the session ends here.
local function judge(conn, stage)
	local got = mt.getreply(conn)
	if stage == expect then
		if got ~= SMFIR_REPLYCODE then
			error(stage .. ": got " .. name(got) .. ", want reply")
		end
		mt.disconnect(conn)
		mt.echo("ok " .. stage .. " refused for " .. ip)
		return true
	end
	if got ~= SMFIR_CONTINUE then
		error(stage .. ": got " .. name(got) .. ", want continue")
	end
	return false
end

local conn = mt.connect(sock, 40, 0.05)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
if judge(conn, "connect") then return end
if mt.helo(conn, helo) ~= nil then error("mt.helo() failed") end
if judge(conn, "helo") then
	-- The MTA lets a client try MAIL after a refused HELO: also refused.
	conn = nil
	return
end
if mt.mailfrom(conn, "<sender@example.net>") ~= nil then error("mailfrom") end
if judge(conn, "mail") then return end
if mt.rcptto(conn, "<user@example.org>") ~= nil then error("rcptto") end
if judge(conn, "rcpt") then return end
for line in string.gmatch(headers, "[^|]+") do
	local n, v = string.match(line, "^([^:]+):%s*(.*)$")
	if n == nil then error("bad header " .. line) end
	if mt.header(conn, n, v) ~= nil then error("mt.header() failed") end
	if judge(conn, "header") then return end
end
if mt.eoh(conn) ~= nil then error("mt.eoh() failed") end
if judge(conn, "eoh") then return end
-- No body: the filter negotiates SMFIP_NOBODY when nothing reads it, and
-- miltertest then refuses to send one.
if mt.eom(conn) ~= nil then error("mt.eom() failed") end
if judge(conn, "eom") then return end
mt.disconnect(conn)
mt.echo("ok message from " .. ip .. " passed")
