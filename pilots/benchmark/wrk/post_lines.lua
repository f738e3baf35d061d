-- POST a different body per request: each line of the file named by the first script argument is
-- "<bearer token> <json body>"; thread k of n takes lines k, k+n, k+2n, ... (second argument: n).
-- A thread that runs out of lines starts again from its first one (the server then answers 4xx,
-- which wrk counts under status=).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
done = require("report").done

local counter = 0
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

local lines, position

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local target = args[3] or wrk.path
  lines, position = {}, 0
  local index = 0
  for line in io.lines(path) do
    if index % threads == thread_index then
      local cut = line:find(" ", 1, true)
      local headers = {
        ["Authorization"] = "Bearer " .. line:sub(1, cut - 1),
        ["Content-Type"] = "application/json",
      }
      lines[#lines + 1] = wrk.format("POST", target, headers, line:sub(cut + 1))
    end
    index = index + 1
  end
end

function request()
  position = position % #lines + 1
  return lines[position]
end
