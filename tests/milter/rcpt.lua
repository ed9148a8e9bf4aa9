-- rcpt.lua - one SMTP transaction through leafmail-milter (miltertest).
--
-- Driven by relay.t through the environment:
--   MT_SOCKET  the milter's socket ("unix:/path")
--   MT_IP      client address ("unspec": unknown family, no address)
--   MT_RCPT    the RCPT argument, as an MTA passes it ("<user@domain>")
--   MT_AUTH    optional: {auth_authen}, sent as a RCPT macro
--   MT_EXPECT  "continue" (recipient passes) or "reply" (the filter set an
--              SMTP reply: 550/451; relay.t checks which from the log and
--              with rcptreply.py, because mt.getreply() can't tell them apart)
-- Any deviation raises an error, so miltertest exits non-zero.

local sock = os.getenv("MT_SOCKET")
local ip = os.getenv("MT_IP")
local rcpt = os.getenv("MT_RCPT")
local auth = os.getenv("MT_AUTH")
local expect = os.getenv("MT_EXPECT")
if sock == nil or ip == nil or rcpt == nil or expect == nil then
	error("MT_SOCKET, MT_IP, MT_RCPT and MT_EXPECT must be set")
end

local function name(r)
	if r == SMFIR_CONTINUE then return "continue" end
	if r == SMFIR_REPLYCODE then return "reply" end
	return "code " .. tostring(r)
end

local conn = mt.connect(sock, 40, 0.05)
if conn == nil then
	error("cannot connect to " .. sock)
end
if mt.conninfo(conn, "client.example", ip) ~= nil then
	error("mt.conninfo() failed")
end
if mt.getreply(conn) ~= SMFIR_CONTINUE then
	error("connect: " .. name(mt.getreply(conn)))
end
if mt.helo(conn, "client.example") ~= nil then
	error("mt.helo() failed")
end
if mt.getreply(conn) ~= SMFIR_CONTINUE then
	error("helo: " .. name(mt.getreply(conn)))
end
if mt.mailfrom(conn, "<sender@example.net>") ~= nil then
	error("mt.mailfrom() failed")
end
if mt.getreply(conn) ~= SMFIR_CONTINUE then
	error("mail: " .. name(mt.getreply(conn)))
end
if auth ~= nil and auth ~= "" then
	if mt.macro(conn, SMFIC_RCPT, "{auth_authen}", auth) ~= nil then
		error("mt.macro() failed")
	end
end
if mt.rcptto(conn, rcpt) ~= nil then
	error("mt.rcptto() failed")
end
local got = name(mt.getreply(conn))
if got ~= expect then
	error(string.format("rcpt %s from %s: got %s, want %s", rcpt, ip, got, expect))
end
if expect == "continue" then
	-- The message itself goes through untouched.
	if mt.eom(conn) ~= nil then
		error("mt.eom() failed")
	end
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("eom: " .. name(mt.getreply(conn)))
	end
	if mt.eom_check(conn, MT_HDRADD) then
		error("eom: the filter changed the message")
	end
end
mt.disconnect(conn)
mt.echo("ok " .. rcpt .. " from " .. ip .. ": " .. got)
