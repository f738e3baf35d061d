-- GET one URL over and over (the Authorization header comes from wrk's -H option).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
done = require("report").done
